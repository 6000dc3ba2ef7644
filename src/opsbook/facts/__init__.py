"""Facts: the single source of truth, loaded from facts/*.yml and validated."""

from opsbook.facts.loader import FactsError, Location, fact_files, load_facts
from opsbook.facts.model import Direction, Environment, Facts, Service, Threshold

__all__ = [
    "Direction",
    "Environment",
    "Facts",
    "FactsError",
    "Location",
    "Service",
    "Threshold",
    "fact_files",
    "load_facts",
]
