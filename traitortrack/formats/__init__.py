"""Number and date formats for both languages (settings.FORMAT_MODULE_PATH): the warehouses are in India,
so English pages group like Hindi ones, 12,34,567 (lakh and crore), and write the day first.

Django reads ``<language>/formats.py`` under this package; both take the values below. Grouping shows only
where a template asks for it (``intcomma``): USE_THOUSAND_SEPARATOR stays off, so a number inside a URL,
an attribute or a code is never split by commas.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
# The date pickers send ISO days; a typed day is day first.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
# Three digits, then twos: 1,23,45,678.
NUMBER_GROUPING = (3, 2, 0)
