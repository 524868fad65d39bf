"""English and French (issue #14 item 8): the language switch and the active language's helpers.

Django's ``set_language`` view stores the choice in its language cookie (and LocaleMiddleware
reads it on every request); it is wrapped here as a public view, since anyone, signed in or
not, may choose the language they read.
"""
