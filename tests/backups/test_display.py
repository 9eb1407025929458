import pytest

from backups.display import count_phrase, human_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (None, "—"),
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1_000, "1.0 KB"),
        (40_649, "40.6 KB"),
        (2_400_000, "2.4 MB"),
        # Rounded up to the next unit, never "1,000.0 KB".
        (999_960, "1.0 MB"),
        (3_250_000_000, "3.2 GB"),
        (5_000_000_000_000, "5.0 TB"),
        # Past the largest unit the number grows, with thousands separators.
        (12_345_000_000_000_000, "12,345.0 TB"),
    ],
)
def test_sizes_read_as_a_person_reads_them(size, shown):
    assert human_size(size) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0 records"), (1, "1 record"), (2, "2 records"), (3200, "3,200 records")],
)
def test_counts_carry_their_noun_in_the_right_number(count, shown):
    assert count_phrase(count, "record") == shown


def test_an_irregular_plural_is_given():
    assert count_phrase(2, "property", "properties") == "2 properties"
    assert count_phrase(1, "property", "properties") == "1 property"
