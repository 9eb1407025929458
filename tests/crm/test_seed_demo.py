from django.core.management import call_command

from crm.models import Association, ObjectType, Property, Record


def test_seed_demo_makes_valid_linked_records_once(crm_schema, capsys):
    call_command("seed_demo", scale=0.02)

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
