"""painclinic: a chronic-pain infusion programme (ketamine, lidocaine) from referral to invoice."""

__version__ = "0.1.0"
