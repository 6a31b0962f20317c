"""A derivation you can click through: ``Derivation.to_html(path)`` writes one self-contained
file (``web.page``), ``create_app(derivation_or_factory)`` serves the same view with elements
computed on demand and training (``web.app``; ``symbolic-torch serve FILE.py:NAME …``).

    d.to_html("paper_output/tiny_cnn.html")            # open view.html#conv1/0,0,1,1
    symbolic_torch.web.app.create_app(d).run()          # http://127.0.0.1:5000/
"""
