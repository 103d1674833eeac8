"""Reports on studies: progress, plots, HTML pages and exports of found architectures."""
