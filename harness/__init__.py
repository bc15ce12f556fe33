"""uiab harness: everything that touches the browser or the experiment lifecycle."""
