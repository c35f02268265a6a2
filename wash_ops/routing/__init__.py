"""Courier routes: stops from orders, the fleet, the travel matrix, the solver and the plans."""
