# A regular user: hand the record on with its role.
# event (str): the previous node's output as JSON text.
import json


def handler(event, context):
    obj = json.loads(event)
    obj["role"] = "user"
    obj["vip"] = False
    return obj
