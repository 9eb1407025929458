"""Fill an empty Concord with realistic demo data: owners, companies, contacts, deals, activity."""

from __future__ import annotations

import random
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from faker import Faker

from crm import sources
from crm.models import AssociationDefinition, ObjectType, Owner, Property, Record
from crm.services.associations import associate_records
from crm.services.owners import create_owner
from crm.services.records import RecordInput, write_records

EDITIONS = ["Pro", "Lite", "Plus", "Suite"]


class Command(BaseCommand):
    help = "Seed demo data (about 500 companies, 3,000 contacts, 800 deals, tickets, tasks)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiply every count (e.g. 0.1 for a quick seed).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Seed even if records already exist."
        )
        parser.add_argument("--seed", type=int, default=2026, help="Random seed.")

    def handle(self, *args, scale: float, force: bool, seed: int, **options):
        if Record.objects.exists() and not force:
            self.stdout.write("Demo data already present; skipping (use --force to add more).")
            return
        started = time.monotonic()
        self.fake = Faker()
        Faker.seed(seed)
        self.random = random.Random(seed)
        self.types = {ot.name: ot for ot in ObjectType.objects.all()}
        n = {
            k: max(1, int(v * scale))
            for k, v in {
                "companies": 500,
                "contacts": 3000,
                "deals": 800,
                "tickets": 400,
                "tasks": 1000,
                "products": 60,
                "calls": 600,
                "conversations": 300,
            }.items()
        }

        self.owner_ids = self._owners()
        companies = self._create("companies", [self._company() for _ in range(n["companies"])])
        contacts = self._create("contacts", [self._contact(i) for i in range(n["contacts"])])
        deals = self._create("deals", [self._deal() for _ in range(n["deals"])])
        tickets = self._create("tickets", [self._ticket() for _ in range(n["tickets"])])
        tasks = self._create("tasks", [self._task() for _ in range(n["tasks"])])
        products = self._create("products", [self._product(i) for i in range(n["products"])])
        calls = self._create("calls", [self._call() for _ in range(n["calls"])])
        conversations = self._create(
            "conversations", [self._conversation() for _ in range(n["conversations"])]
        )

        pick = self.random.choice
        employer = {c: pick(companies) for c in contacts if self.random.random() < 0.85}
        self._link("contacts", "companies", "", list(employer.items()))
        self._link("contacts", "companies", "Primary", list(employer.items()))
        deal_company = [(d, pick(companies)) for d in deals]
        self._link("deals", "companies", "", deal_company)
        self._link("deals", "companies", "Primary", deal_company)
        deal_contacts = [
            (d, c) for d in deals for c in self.random.sample(contacts, self.random.randint(1, 3))
        ]
        self._link("deals", "contacts", "", deal_contacts)
        self._link("deals", "contacts", "Decision maker", deal_contacts[::3])
        self._link(
            "deals",
            "products",
            "",
            [(d, pick(products)) for d in deals if self.random.random() < 0.6],
        )
        self._link("tickets", "contacts", "", [(t, pick(contacts)) for t in tickets])
        self._link("tasks", "contacts", "", [(t, pick(contacts)) for t in tasks])
        self._link("tasks", "deals", "", [(t, pick(deals)) for t in tasks[::2]])
        self._link("calls", "contacts", "", [(c, pick(contacts)) for c in calls])
        self._link("conversations", "contacts", "", [(c, pick(contacts)) for c in conversations])
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {sum(n.values())} records in {time.monotonic() - started:.1f} s."
            )
        )

    def _owners(self) -> list[int]:
        """A small sales team; the demo admin login (if there is one) is one of them."""
        admin = get_user_model().objects.filter(username="admin").first()
        team = [
            ("Demo Admin", "admin@example.com", admin),
            ("Ana Ribeiro", "ana.ribeiro@example.com", None),
            ("Marcus Webb", "marcus.webb@example.com", None),
            ("Priya Nair", "priya.nair@example.com", None),
            ("Tom Becker", "tom.becker@example.com", None),
        ]
        ids = []
        for name, email, user in team:
            owner = Owner.objects.filter(email=email).first()
            if owner is None:
                if user is not None and Owner.objects.filter(user=user).exists():
                    user = None  # the login is another owner already
                owner = create_owner(name=name, email=email, user=user, source=sources.SYSTEM)
            ids.append(owner.pk)
        self.stdout.write(f"  {len(ids)} owners")
        return ids

    def _create(self, type_name: str, rows: list[dict]) -> list[int]:
        self._pick_options(type_name, rows)
        # Most records have an owner, spread unevenly (a team is never balanced).
        for row in rows:
            if self.random.random() < 0.9:
                row.setdefault("owner", self.random.choices(self.owner_ids, [4, 3, 3, 2, 1])[0])
        ids: list[int] = []
        for start in range(0, len(rows), 1000):
            result = write_records(
                object_type=self.types[type_name],
                mode="create",
                source=sources.SYSTEM,
                inputs=[RecordInput(properties=r) for r in rows[start : start + 1000]],
            )
            ids.extend(result.ids)
        self.stdout.write(f"  {len(ids)} {type_name}")
        return ids

    def _pick_options(self, type_name: str, rows: list[dict]) -> None:
        """Give every row a random option of each dropdown property, taken from the schema."""
        dropdowns = {
            prop.name: [o.value for o in prop.options.all() if not o.hidden]
            for prop in self.types[type_name]
            .property_definitions.filter(type=Property.Type.ENUMERATION)
            .prefetch_related("options")
        }
        for row in rows:
            for name, values in dropdowns.items():
                if values and name not in row:
                    row[name] = self.random.choice(values)

    def _link(self, source: str, target: str, label: str, pairs: list[tuple[int, int]]) -> None:
        definition = AssociationDefinition.objects.get(
            from_object_type=self.types[source], to_object_type=self.types[target], label=label
        )
        for start in range(0, len(pairs), 2000):
            associate_records(
                definition=definition, pairs=pairs[start : start + 2000], source=sources.SYSTEM
            )

    def _company(self) -> dict:
        f = self.fake
        name = f.unique.company()
        domain = f"{''.join(ch for ch in name.lower() if ch.isalnum())[:20]}.example.com"
        return {
            "name": name,
            "domain": domain,
            "website": f"https://www.{domain}",
            "phone": f.numerify("+1 ###-###-####"),
            "city": f.city(),
            "state": f.state(),
            "country": "United States",
            "zip": f.postcode(),
            "address": f.street_address(),
            "numberofemployees": self.random.choice([5, 12, 40, 120, 450, 1200, 8000]),
            "annualrevenue": self.random.randrange(100_000, 50_000_000, 1000),
        }

    def _contact(self, i: int) -> dict:
        f = self.fake
        first, last = f.first_name(), f.last_name()
        row = {
            "firstname": first,
            "lastname": last,
            "email": f"{first}.{last}.{i}@{f.free_email_domain()}".lower(),
            "phone": f.numerify("+1 ###-###-####"),
            "jobtitle": f.job()[:80],
            "company": f.company(),
            "city": f.city(),
            "country": "United States",
        }
        if self.random.random() < 0.3:
            row["mobilephone"] = f.numerify("+1 ###-###-####")
        if self.random.random() < 0.2:
            row["date_of_birth"] = f.date_of_birth(minimum_age=20, maximum_age=70).isoformat()
        return row

    def _deal(self) -> dict:
        f = self.fake
        return {
            "dealname": f"{f.company()} - {f.bs().title()}"[:120],
            "amount": self.random.randrange(1_000, 250_000, 50),
            "pipeline": "default",
            "closedate": f.date_between("-180d", "+180d").isoformat(),
        }

    def _ticket(self) -> dict:
        f = self.fake
        return {
            "subject": f.sentence(nb_words=6).rstrip("."),
            "content": f.paragraph(),
            "pipeline_stage": self.random.choice(
                ["new", "waiting_on_contact", "waiting_on_us", "closed"]
            ),
        }

    def _task(self) -> dict:
        f = self.fake
        return {
            "subject": f"{self.random.choice(['Call', 'Email', 'Follow up with'])} {f.name()}",
            "due_date": f.date_time_between("-30d", "+30d", tzinfo=None).isoformat() + "Z",
        }

    def _product(self, i: int) -> dict:
        f = self.fake
        price = self.random.randrange(10, 5000)
        return {
            "name": f"{f.color_name()} {f.word().title()} {self.random.choice(EDITIONS)}",
            "sku": f"SKU-{1000 + i}",
            "price": price,
            "cost_of_goods_sold": round(price * 0.4, 2),
        }

    def _call(self) -> dict:
        f = self.fake
        return {
            "title": f"Call with {f.name()}",
            "body": f.paragraph(),
            "duration_seconds": self.random.randint(30, 3600),
            "called_at": f.date_time_between("-60d", "now", tzinfo=None).isoformat() + "Z",
        }

    def _conversation(self) -> dict:
        f = self.fake
        return {
            "subject": f.sentence(nb_words=5).rstrip("."),
            "last_message_at": f.date_time_between("-14d", "now", tzinfo=None).isoformat() + "Z",
        }
