# SLIC drivers. A driver receives its pins and timers; it never creates them.
