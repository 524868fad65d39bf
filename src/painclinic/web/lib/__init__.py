"""Infrastructure shared by every app of the web project.

Nothing here knows a clinical area: environment settings (``env``), the service contract
(``service``: actors, refusals, conflicts, audited object reads), append-only models
(``appendonly``), the database durability probe (``durability``), the clinic's calendar and
wall-clock time (``clinicdate``, ``clinictime``) and the hand-built row reads the busiest pages
use (``rowreads``).
"""
