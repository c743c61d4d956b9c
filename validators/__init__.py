"""recipegen lint: facts (ast, bashlex) -> rule-coded checks (rules/SAE*.py) -> reporters."""
