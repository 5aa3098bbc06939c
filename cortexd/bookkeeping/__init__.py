"""Bookkeeping over the ledger: this month's spend, budget alerts, the weekly review, what
each client's answers use, and the notices that tell the person.
"""
