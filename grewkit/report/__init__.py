"""Dataset statistics and figures (GREW Table 1/4, Fig. 5 style) as Markdown and HTML."""
