"""The `ata` command: one entry point for the host-side tools."""
def main():
    pass
