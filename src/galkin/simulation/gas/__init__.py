"""A population of star-forming gas discs, regular and disturbed, simulated physically."""
