"""Docker's verbs and flags, turned into engine calls and Docker's output."""
