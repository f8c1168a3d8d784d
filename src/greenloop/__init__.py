"""greenloop: turn tests into working code by generate -> execute -> test -> revise."""
