# The join: the three parallel branches' outputs arrive merged into one
# object ({"customer": ..., "shipping": ..., "loyalty": ...}); the order
# itself is referenced by the workflow's result.  Adds what no single
# service knows: the discount the loyalty tier earns.
import json

DISCOUNT = {"gold": 0.10, "silver": 0.05}


def handler(event, context):
    joined = json.loads(event)
    tier = joined["loyalty"]["tier"]
    return {
        "customer": joined["customer"]["name"],
        "email": joined["customer"]["email"],
        "shipping": joined["shipping"]["status"],
        "eta": joined["shipping"].get("eta"),
        "tier": tier,
        "discount": DISCOUNT.get(tier, 0.0),
    }
