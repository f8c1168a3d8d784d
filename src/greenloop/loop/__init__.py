"""The generate -> execute -> test -> revise loop: engine, strategies, prompts, feedback, extraction."""
