# Unambiguous entry only: ISO dates, 24-hour times (see painclinic/web/formats/__init__.py).
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
]

# Clinical numbers keep the decimal point in French too: a weight shown as 72,4 kg beside a
# dose written 0.5 mg/kg (ISMP notation, always a point) invites a misread on a high-alert
# chart. Amounts of money follow the language on their own (web/lib/money.py).
DECIMAL_SEPARATOR = "."
