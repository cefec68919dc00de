// Test rig.
