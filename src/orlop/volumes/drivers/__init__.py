"""Volume drivers: ``local`` (Docker's, plus Orlop's ``size=`` quota volumes)."""
