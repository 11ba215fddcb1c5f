"""Value formats of generated records: dates, UTC timestamps and money, written fast and exactly.

Times are whole seconds since 2010-01-01T00:00:00Z and dates are day numbers since then, so the
generator does integer arithmetic and formats with table look-ups (no datetime per value).
Money is integer cents, written as a decimal string: never a float.
"""

from __future__ import annotations

from datetime import date, timedelta

EPOCH = date(2010, 1, 1)
NOW_DATE = date(2026, 11, 1)
NOW_DAY = (NOW_DATE - EPOCH).days
"""The fixed reference 'now', 2026-11-01T00:00:00Z, as a day number."""
NOW = NOW_DAY * 86400
"""The fixed reference 'now' in seconds."""
HISTORY_DAYS = 3 * 365
WINDOW_START_DAY = NOW_DAY - HISTORY_DAYS
"""Activity histories start here (three years before 'now')."""
USCC_REFORM_DAY = (date(2016, 1, 1) - EPOCH).days
"""Chinese companies registered before this carried 15-digit licence numbers, not credit codes."""
DAY = 86400
HOUR = 3600

_FUTURE_DAYS = 3 * 366  # due dates, expected close dates and renewals reach past 'now'
_DATES: tuple[str, ...] = tuple((EPOCH + timedelta(days=d)).isoformat() for d in range(NOW_DAY + _FUTURE_DAYS))
_DATES_T: tuple[str, ...] = tuple(d + "T" for d in _DATES)
_CLOCK: tuple[str, ...] = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86400))


def day_text(day: int) -> str:
    """'YYYY-MM-DD' of a day number."""
    return _DATES[day]


def ts_text(seconds: int) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ' of a time in seconds."""
    day, rest = divmod(seconds, 86400)
    return _DATES_T[day] + _CLOCK[rest]


def year_of(day: int) -> int:
    return int(_DATES[day][:4])


def money(cents: int) -> str:
    """Cents as a decimal string with two places: 123450 → '1234.50', -5 → '-0.05'."""
    if cents < 0:
        return "-" + money(-cents)
    return f"{cents // 100}.{cents % 100:02d}"
