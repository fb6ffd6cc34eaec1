# The seed's counter, as the Cloud Resume Challenge writes it in Python: one
# UpdateItem per visit, no unique visitors. BenchmarkColdStart runs it under
# the emulator as the anchor of the Lambda cold-start rows.
import json
import os

import boto3

# boto3 from Debian (1.26) predates AWS_ENDPOINT_URL_DYNAMODB: pass it on.
table = boto3.resource(
    "dynamodb", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
).Table(os.environ.get("COUNTER_TABLE", "cloud-resume-stats"))


def lambda_handler(event, context):
    out = table.update_item(
        Key={"id": "visitors"},
        UpdateExpression="ADD #c :one",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"count": int(out["Attributes"]["count"])}),
    }
