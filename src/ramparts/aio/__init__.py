"""asyncio drivers of the sans-IO protocol objects (the protocols themselves import no asyncio)."""
