"""Workforce planning (CC-09): Erlang C, the forecast of calls per 30 minutes, staffing plans.

Pure domain: no storage, no clock. ``erlang`` computes one interval, ``forecast`` turns
history into expected calls per interval by day type (weekday or Japanese public holiday),
``plan`` joins them into agents per interval.
"""
