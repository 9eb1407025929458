"""Schedule the sync fan-out every minute (each integration has its own interval, default 5
minutes) and the daily pruning of old sync history; both are editable in the admin."""

from django.db import migrations

SCHEDULE_NAME = "Start due sync cycles"
PRUNE_NAME = "Prune sync history older than 30 days"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={"task": "syncengine.schedule_cycles", "interval": every_minute},
    )
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="40", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=PRUNE_NAME, defaults={"task": "syncengine.prune_history", "crontab": nightly}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[SCHEDULE_NAME, PRUNE_NAME]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("syncengine", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
