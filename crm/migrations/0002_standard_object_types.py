"""Seed the standard object types, their default properties and association labels."""

from django.db import migrations

LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]

# (name, singular, plural, primary property, list columns, search properties, properties)
# A property is (name, label, type, group, extra) with extra holding options and flags.
STANDARD_TYPES = [
    (
        "contacts",
        "Contact",
        "Contacts",
        "email",
        ["firstname", "lastname", "email", "phone", "company", "lifecyclestage"],
        ["email", "firstname", "lastname"],
        [
            ("email", "Email", "email", "contactinformation", {"unique": True}),
            ("firstname", "First name", "text", "contactinformation", {}),
            ("lastname", "Last name", "text", "contactinformation", {}),
            ("phone", "Phone number", "phone", "contactinformation", {}),
            ("mobilephone", "Mobile phone number", "phone", "contactinformation", {}),
            ("fax", "Fax number", "phone", "contactinformation", {}),
            ("company", "Company name", "text", "contactinformation", {}),
            ("jobtitle", "Job title", "text", "contactinformation", {}),
            ("website", "Website URL", "url", "contactinformation", {}),
            ("address", "Street address", "text", "address", {}),
            ("city", "City", "text", "address", {}),
            ("state", "State/Region", "text", "address", {}),
            ("zip", "Postal code", "text", "address", {}),
            ("country", "Country/Region", "text", "address", {}),
            (
                "lifecyclestage",
                "Lifecycle stage",
                "enumeration",
                "salesinformation",
                {"options": LIFECYCLE},
            ),
            (
                "lead_status",
                "Lead status",
                "enumeration",
                "salesinformation",
                {
                    "options": [
                        "new",
                        "open",
                        "in_progress",
                        "open_deal",
                        "unqualified",
                        "attempted_to_contact",
                        "connected",
                        "bad_timing",
                    ]
                },
            ),
            ("date_of_birth", "Date of birth", "date", "contactinformation", {"sensitive": True}),
            ("notes", "Notes", "textarea", "contactinformation", {}),
        ],
    ),
    (
        "companies",
        "Company",
        "Companies",
        "name",
        ["name", "domain", "industry", "city", "country", "numberofemployees"],
        ["name", "domain"],
        [
            ("name", "Company name", "text", "companyinformation", {}),
            ("domain", "Company domain name", "text", "companyinformation", {}),
            ("website", "Website URL", "url", "companyinformation", {}),
            (
                "industry",
                "Industry",
                "enumeration",
                "companyinformation",
                {
                    "options": [
                        "ACCOUNTING",
                        "BANKING",
                        "COMPUTER_SOFTWARE",
                        "CONSTRUCTION",
                        "EDUCATION_MANAGEMENT",
                        "FOOD_BEVERAGES",
                        "HOSPITAL_HEALTH_CARE",
                        "INFORMATION_TECHNOLOGY_AND_SERVICES",
                        "INSURANCE",
                        "LOGISTICS_AND_SUPPLY_CHAIN",
                        "MARKETING_AND_ADVERTISING",
                        "REAL_ESTATE",
                        "RETAIL",
                        "TELECOMMUNICATIONS",
                    ]
                },
            ),
            (
                "type",
                "Type",
                "enumeration",
                "companyinformation",
                {"options": ["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"]},
            ),
            ("phone", "Phone number", "phone", "companyinformation", {}),
            ("address", "Street address", "text", "address", {}),
            ("city", "City", "text", "address", {}),
            ("state", "State/Region", "text", "address", {}),
            ("zip", "Postal code", "text", "address", {}),
            ("country", "Country/Region", "text", "address", {}),
            ("numberofemployees", "Number of employees", "number", "companyinformation", {}),
            ("annualrevenue", "Annual revenue", "number", "companyinformation", {}),
            (
                "lifecyclestage",
                "Lifecycle stage",
                "enumeration",
                "salesinformation",
                {"options": LIFECYCLE},
            ),
            ("description", "Description", "textarea", "companyinformation", {}),
        ],
    ),
    (
        "deals",
        "Deal",
        "Deals",
        "dealname",
        ["dealname", "amount", "dealstage", "closedate"],
        ["dealname"],
        [
            ("dealname", "Deal name", "text", "dealinformation", {}),
            ("amount", "Amount", "number", "dealinformation", {}),
            (
                "dealstage",
                "Deal stage",
                "enumeration",
                "dealinformation",
                {
                    "options": [
                        "appointmentscheduled",
                        "qualifiedtobuy",
                        "presentationscheduled",
                        "decisionmakerboughtin",
                        "contractsent",
                        "closedwon",
                        "closedlost",
                    ]
                },
            ),
            ("pipeline", "Pipeline", "enumeration", "dealinformation", {"options": ["default"]}),
            ("closedate", "Close date", "date", "dealinformation", {}),
            (
                "dealtype",
                "Deal type",
                "enumeration",
                "dealinformation",
                {"options": ["newbusiness", "existingbusiness"]},
            ),
            (
                "priority",
                "Priority",
                "enumeration",
                "dealinformation",
                {"options": ["low", "medium", "high"]},
            ),
            ("description", "Deal description", "textarea", "dealinformation", {}),
        ],
    ),
    (
        "tickets",
        "Ticket",
        "Tickets",
        "subject",
        ["subject", "pipeline_stage", "priority", "source"],
        ["subject"],
        [
            ("subject", "Ticket name", "text", "ticketinformation", {}),
            ("content", "Ticket description", "textarea", "ticketinformation", {}),
            (
                "pipeline_stage",
                "Ticket status",
                "enumeration",
                "ticketinformation",
                {"options": ["new", "waiting_on_contact", "waiting_on_us", "closed"]},
            ),
            (
                "priority",
                "Priority",
                "enumeration",
                "ticketinformation",
                {"options": ["low", "medium", "high", "urgent"]},
            ),
            (
                "source",
                "Source",
                "enumeration",
                "ticketinformation",
                {"options": ["email", "chat", "phone", "form"]},
            ),
            ("closed_date", "Close date", "datetime", "ticketinformation", {}),
        ],
    ),
    (
        "products",
        "Product",
        "Products",
        "name",
        ["name", "sku", "price"],
        ["name", "sku"],
        [
            ("name", "Name", "text", "productinformation", {}),
            ("sku", "SKU", "text", "productinformation", {"unique": True}),
            ("description", "Description", "textarea", "productinformation", {}),
            ("price", "Unit price", "number", "productinformation", {}),
            ("cost_of_goods_sold", "Unit cost", "number", "productinformation", {}),
            (
                "billing_frequency",
                "Billing frequency",
                "enumeration",
                "productinformation",
                {"options": ["one_time", "monthly", "quarterly", "annually"]},
            ),
        ],
    ),
    (
        "calls",
        "Call",
        "Calls",
        "title",
        ["title", "direction", "status", "called_at"],
        ["title"],
        [
            ("title", "Call title", "text", "callinformation", {}),
            ("body", "Call notes", "textarea", "callinformation", {}),
            (
                "direction",
                "Call direction",
                "enumeration",
                "callinformation",
                {"options": ["inbound", "outbound"]},
            ),
            (
                "status",
                "Call status",
                "enumeration",
                "callinformation",
                {"options": ["completed", "busy", "no_answer", "failed", "canceled"]},
            ),
            ("duration_seconds", "Call duration (seconds)", "number", "callinformation", {}),
            ("called_at", "Call time", "datetime", "callinformation", {}),
        ],
    ),
    (
        "conversations",
        "Conversation",
        "Conversations",
        "subject",
        ["subject", "channel", "status", "last_message_at"],
        ["subject"],
        [
            ("subject", "Subject", "text", "conversationinformation", {}),
            (
                "channel",
                "Channel",
                "enumeration",
                "conversationinformation",
                {"options": ["email", "chat", "facebook_messenger", "whatsapp"]},
            ),
            (
                "status",
                "Status",
                "enumeration",
                "conversationinformation",
                {"options": ["open", "closed"]},
            ),
            ("last_message_at", "Last message", "datetime", "conversationinformation", {}),
        ],
    ),
    (
        "tasks",
        "Task",
        "Tasks",
        "subject",
        ["subject", "status", "priority", "due_date"],
        ["subject"],
        [
            ("subject", "Task title", "text", "taskinformation", {}),
            ("body", "Notes", "textarea", "taskinformation", {}),
            (
                "status",
                "Task status",
                "enumeration",
                "taskinformation",
                {"options": ["not_started", "in_progress", "waiting", "completed", "deferred"]},
            ),
            (
                "priority",
                "Priority",
                "enumeration",
                "taskinformation",
                {"options": ["none", "low", "medium", "high"]},
            ),
            (
                "task_type",
                "Task type",
                "enumeration",
                "taskinformation",
                {"options": ["call", "email", "todo"]},
            ),
            ("due_date", "Due date", "datetime", "taskinformation", {}),
        ],
    ),
]

# (from, to, label, from_limit, to_limit)
ASSOCIATION_DEFINITIONS = [
    ("contacts", "companies", "", None, None),
    ("contacts", "companies", "Primary", 1, None),
    ("deals", "companies", "", None, None),
    ("deals", "companies", "Primary", 1, None),
    ("deals", "contacts", "", None, None),
    ("deals", "contacts", "Decision maker", None, None),
    ("tickets", "contacts", "", None, None),
    ("tickets", "companies", "", None, None),
    ("tasks", "contacts", "", None, None),
    ("tasks", "companies", "", None, None),
    ("tasks", "deals", "", None, None),
    ("calls", "contacts", "", None, None),
    ("conversations", "contacts", "", None, None),
    ("deals", "products", "", None, None),
]


def _option_label(value: str) -> str:
    return value.replace("_", " ").capitalize() if value.islower() or "_" in value else value


def seed(apps, schema_editor):
    ObjectType = apps.get_model("crm", "ObjectType")
    Property = apps.get_model("crm", "Property")
    PropertyOption = apps.get_model("crm", "PropertyOption")
    AssociationDefinition = apps.get_model("crm", "AssociationDefinition")
    types = {}
    for name, singular, plural, primary, columns, search, props in STANDARD_TYPES:
        object_type = ObjectType.objects.create(
            name=name,
            label_singular=singular,
            label_plural=plural,
            is_custom=False,
            primary_property=primary,
            list_properties=columns,
            search_properties=search,
        )
        types[name] = object_type
        for order, (pname, label, ptype, group, extra) in enumerate(props):
            prop = Property.objects.create(
                object_type=object_type,
                name=pname,
                label=label,
                type=ptype,
                group=group,
                display_order=order,
                is_builtin=True,
                unique=extra.get("unique", False),
                sensitive=extra.get("sensitive", False),
            )
            PropertyOption.objects.bulk_create(
                [
                    PropertyOption(
                        property=prop, value=value, label=_option_label(value), display_order=i
                    )
                    for i, value in enumerate(extra.get("options", []))
                ]
            )
    for source, target, label, from_limit, to_limit in ASSOCIATION_DEFINITIONS:
        AssociationDefinition.objects.create(
            from_object_type=types[source],
            to_object_type=types[target],
            label=label,
            from_limit=from_limit,
            to_limit=to_limit,
        )


def unseed(apps, schema_editor):
    apps.get_model("crm", "AssociationDefinition").objects.all().delete()
    apps.get_model("crm", "ObjectType").objects.filter(is_custom=False).delete()


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
