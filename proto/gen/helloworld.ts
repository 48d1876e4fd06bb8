import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { GreeterClient as _helloworld_GreeterClient, GreeterDefinition as _helloworld_GreeterDefinition } from './helloworld/Greeter';
import type { HelloReply as _helloworld_HelloReply, HelloReply__Output as _helloworld_HelloReply__Output } from './helloworld/HelloReply';
import type { HelloRequest as _helloworld_HelloRequest, HelloRequest__Output as _helloworld_HelloRequest__Output } from './helloworld/HelloRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  helloworld: {
    /**
     * The greeting service definition.
     */
    Greeter: SubtypeConstructor<typeof grpc.Client, _helloworld_GreeterClient> & { service: _helloworld_GreeterDefinition }
    HelloReply: MessageTypeDefinition<_helloworld_HelloReply, _helloworld_HelloReply__Output>
    HelloRequest: MessageTypeDefinition<_helloworld_HelloRequest, _helloworld_HelloRequest__Output>
  }
}

