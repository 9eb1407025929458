from django.core.management import call_command

from crm.models import Association, ObjectType, Owner, Property, Record
from tests.factories import UserFactory


def test_seed_demo_makes_valid_linked_records_once(crm_schema, capsys):
    admin = UserFactory(username="admin")
    call_command("seed_demo", scale=0.02)

    # A sales team, the demo admin login among them, owning most records between them.
    owners = set(Owner.objects.values_list("pk", flat=True))
    assert len(owners) == 5 and Owner.objects.get(user=admin).email == "admin@example.com"
    held = [r.properties.get("owner") for r in Record.objects.all()]
    assert set(held) - {None} <= owners and len(set(held) - {None}) >= 3
    assert held.count(None) < len(held) / 4

    counts = {
        ot.name: Record.objects.filter(object_type=ot).count() for ot in ObjectType.objects.all()
    }
    assert counts["companies"] == 10 and counts["contacts"] == 60 and counts["deals"] == 16
    assert Association.objects.filter(definition__label="Primary").exists()
    # Every dropdown value comes from the schema's options.
    stages = set(
        Property.objects.get(object_type__name="deals", name="dealstage").options.values_list(
            "value", flat=True
        )
    )
    assert {
        r.properties["dealstage"] for r in Record.objects.filter(object_type__name="deals")
    } <= stages

    call_command("seed_demo", scale=0.02)
    assert "already present" in capsys.readouterr().out
    assert Record.objects.filter(object_type__name="companies").count() == 10
