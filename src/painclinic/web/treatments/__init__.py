"""Treatment: fee schedule, consent with cost estimate, checked plans with co-signature."""
