"""Schedule the hourly backup jobs: expire old files, start scheduled backups when due."""

from django.db import migrations

TASKS = [
    ("Expire backups older than 14 days", "backups.expire_backups"),
    ("Start scheduled backups when due", "backups.run_scheduled_backups"),
]


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Every 15 minutes: a due backup starts soon after its time, and the check costs one query.
    interval, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    for name, task in TASKS:
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _ in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
