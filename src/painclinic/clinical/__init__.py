"""Clinical rules core: instruments, criteria, eligibility, protocols, monitoring, outcomes."""
