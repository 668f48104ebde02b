// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice The part of Organizations that other DIBS contracts consult.
interface IOrganizations {
    function isMember(uint256 orgId, address account) external view returns (bool);
    function isNode(uint256 orgId, address node) external view returns (bool);
    function adminOf(uint256 orgId) external view returns (address);
    function organizationCount() external view returns (uint256);
}
