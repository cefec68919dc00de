print("certbridge")
