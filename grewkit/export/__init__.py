"""Writing a split dataset for others: OpenGait's layout and a GREW-style release."""
