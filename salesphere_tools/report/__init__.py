"""The analysts' dashboard: serving views rendered into one offline HTML page."""
