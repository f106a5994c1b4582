"""The format as data: editions, codes and labels (schemas/), values, the report model."""
