"""Filipino (``fil``): Django has no locale for it. The patterns follow the Unicode CLDR data
for ``fil`` (as Babel ships it): "Enero 5, 2026", "3:05 PM", 12-hour clock, the week starting on
Sunday, a period as decimal separator and a comma between thousands. Django's format syntax:
https://docs.djangoproject.com/en/5.2/ref/templates/builtins/#date
"""

DATE_FORMAT = "F j, Y"
TIME_FORMAT = "g:i A"
DATETIME_FORMAT = "F j, Y, g:i A"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "F j"
SHORT_DATE_FORMAT = "n/j/y"
SHORT_DATETIME_FORMAT = "n/j/y, g:i A"
FIRST_DAY_OF_WEEK = 0  # Sunday
DATE_INPUT_FORMATS = ["%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%B %d, %Y"]
TIME_INPUT_FORMATS = ["%I:%M %p", "%H:%M", "%H:%M:%S"]
DATETIME_INPUT_FORMATS = ["%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
