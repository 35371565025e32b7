"""Django's own words on our account pages: the login form's errors, the password forms' labels and the
password rules. Listed here only so that makemessages puts them into our Hindi catalog, which Django reads
before its own (LOCALE_PATHS comes first): Django's Hindi says शब्दकूट for password and leaves the password
rules in English. Nothing imports this module. Each text must be exactly Django's, which
tests/traitortrack/test_translations.py checks against Django's English catalog.
"""

# ruff: noqa: RUF001 (Django's texts have typographic apostrophes, and must match them exactly)
from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_WORDS = [
    # django.contrib.auth.forms
    gettext_noop("Password"),
    gettext_noop("Password confirmation"),
    gettext_noop("Enter the same password as before, for verification."),
    gettext_noop("The two password fields didn’t match."),
    gettext_noop("Please enter a correct %(username)s and password. Note that both fields may be case-sensitive."),
    gettext_noop("This account is inactive."),
    gettext_noop("Email"),
    gettext_noop("New password"),
    gettext_noop("New password confirmation"),
    gettext_noop("Old password"),
    gettext_noop("Your old password was entered incorrectly. Please enter it again."),
    # django.contrib.auth.models (the password rules name these fields)
    gettext_noop("username"),
    gettext_noop("first name"),
    gettext_noop("last name"),
    gettext_noop("email address"),
    # django.contrib.auth.password_validation (settings.AUTH_PASSWORD_VALIDATORS)
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        "min_length",
    ),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("This password is too common."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("Your password can’t be entirely numeric."),
]
