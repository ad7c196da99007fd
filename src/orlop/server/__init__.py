"""The Docker Engine API on a unix socket (``orlopd``): Docker's wire names live only here."""
