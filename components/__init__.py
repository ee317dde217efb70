"""Pulumi ComponentResources and the pure tuning logic they share with the policy pack."""
