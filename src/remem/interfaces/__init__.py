"""Thin adapters over ``remem.Memory``: each one translates, none decides policy."""
