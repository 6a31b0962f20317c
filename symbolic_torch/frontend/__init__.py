"""The frontend: capture a model as an fx graph (one pass a file) and lower each node through the rule table."""
