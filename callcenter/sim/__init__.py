"""The simulated PBX: an AMI server and a FastAGI client that speak as Asterisk 22 does.

It drives the backend only through the real TCP protocols, for the demo, the integration tests
and the load benchmarks. Start with :class:`callcenter.sim.load.SimulatedPbx`::

    pbx = SimulatedPbx(SimClock(scale=60), agi_port=4573, phones=[AgentPhone("201")])
    await pbx.start()                      # AMI on pbx.ami.port (user cc / ccsecret)
    outcome = await pbx.call(CallerModel(dtmf={"*": "1"}))
    report = await run_load(pbx, callers, rate_per_hour=day_curve(300), duration=3600)

Modules: ``clock`` (time scale), ``channels`` (channel model and events), ``dialplan``,
``apps`` (dialplan applications), ``asterisk`` (the instance: Originate, legs, bridges),
``queues`` (app_queue survival path), ``agi_client`` (FastAGI), ``ami_server``/``ami_actions``
(AMI), ``models`` (callers, agent phones), ``load`` (traffic), ``compare`` (stream shape
comparison), ``replay`` (trace replays).
"""
