package contract

// Aurora global databases (restorable/global_database.go, internal/failover).
const (
	// TypeGlobalCluster is a guarded type: deleting the global database, or
	// replacing it, takes every secondary's replica with it.
	TypeGlobalCluster = "AWS::RDS::GlobalCluster"

	// HandlerGlobalSwitch moves the writer; its function exists only in a
	// deploy that asks for a switchover or a failover.
	HandlerGlobalSwitch = "global-switch"
	// GlobalSwitchResourceType is the custom resource that does it.
	GlobalSwitchResourceType = "Custom::RestorableGlobalSwitch"
	// EnvFunctionName lets the switch function invoke itself again.
	EnvFunctionName = "RESTORABLE_FUNCTION_NAME"

	// Properties of the custom resource.
	GlobalSwitchCluster = "GlobalClusterIdentifier"
	GlobalSwitchTarget  = "TargetClusterArn"
	GlobalSwitchMode    = "Mode"

	ModeSwitchover = "switchover"
	ModeFailover   = "failover"

	// ReplicaPromoteResourceType makes an EFS replica writeable (the same
	// function, HandlerGlobalSwitch, serves it); its properties are
	// ReplicaFileSystem and GlobalSwitchMode.
	ReplicaPromoteResourceType = "Custom::RestorableReplicaPromote"
	ReplicaFileSystem          = "FileSystemId"
)
