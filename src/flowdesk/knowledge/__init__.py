"""The knowledge base: categories, articles in several languages, search, votes, deflection."""
