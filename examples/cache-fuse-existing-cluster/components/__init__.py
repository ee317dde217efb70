"""The team's own helpers. A folder named ``components`` is common in Pulumi repositories; the
platform package is imported as ``ack_alluxio_training``, so the two never clash."""


def team_labels(team: str) -> dict[str, str]:
    """Labels the team puts on what it owns."""
    return {"team": team, "cost-center": f"ml-{team}"}
