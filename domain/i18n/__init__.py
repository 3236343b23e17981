"""Human text in the merchant's language.

Code names every human-facing sentence in English, as a catalog key: `msg()` keeps it unrendered (a problem
reported later, in whatever language its reader uses), `tr()` renders it at once in the language of the work
at hand. The language is chosen at the edge (a staff account's choice, then the request's Accept-Language, then
the merchant's) and carried by `use_language`, so domain code never passes it around.
"""

from domain.i18n.catalogs import render, tr, translate
from domain.i18n.language import DEFAULT_LANGUAGE, LANGUAGES, current_language, negotiate, supported, use_language
from domain.i18n.messages import Message, msg

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Message",
    "current_language",
    "msg",
    "negotiate",
    "render",
    "supported",
    "tr",
    "translate",
    "use_language",
]
