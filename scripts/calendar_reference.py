#!/usr/bin/env python3
"""Reference working-day table for China, 2024-01-01 to 2026-12-31.

Prints one line per day, ``YYYY-MM-DD 1`` for a working day and
``YYYY-MM-DD 0`` for a day off, according to ``chinese_calendar.is_workday``
from the PyPI package ``chinesecalendar`` (an independent source used to
check ``data/calendar/cn-2024-2026.csv`` and ``minyi_domain::calendar``).

Exits with status 2 and a message on stderr if the package is missing, and
with status 3 if it does not cover a day in the range.

    pip install chinesecalendar==1.11.0
"""

import datetime
import sys

FIRST = datetime.date(2024, 1, 1)
LAST = datetime.date(2026, 12, 31)


def main() -> int:
    try:
        import chinese_calendar
    except ImportError as err:
        print(
            "calendar_reference.py: the Python module 'chinese_calendar' is missing "
            f"({err}); install it with: pip install chinesecalendar==1.11.0",
            file=sys.stderr,
        )
        return 2

    lines = []
    day = FIRST
    while day <= LAST:
        try:
            working = chinese_calendar.is_workday(day)
        except NotImplementedError as err:
            print(
                f"calendar_reference.py: chinese_calendar has no data for {day}: {err}",
                file=sys.stderr,
            )
            return 3
        lines.append(f"{day.isoformat()} {1 if working else 0}")
        day += datetime.timedelta(days=1)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
