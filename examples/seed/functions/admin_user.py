# The administrator (user 1): hand the record on with its role.
import json


def handler(event, context):
    obj = json.loads(event)
    obj["role"] = "admin"
    obj["vip"] = True
    return obj
